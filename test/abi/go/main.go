// errmsg_goroutines: the case streamlog_errmsg_of() exists for, through real
// cgo. Goroutines (which move between OS threads between calls) fail calls
// with messages of their own, concurrently, and read each message afterwards
// by the id cgo hands back as the call's errno. Every goroutine must get
// exactly its own message. Rounds keep fewer than 256 failures between a
// call and its read, so no message can have been overwritten.
//
//	errmsg_goroutines STORE_DIR
package main

/*
#include <stdlib.h>
#include <streamlog.h>
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

const (
	goroutines = 100 // failures per round: fewer than the 256 the library keeps
	rounds     = 40
)

// failAndRead makes a call fail with a message naming tag, then yields (so the
// goroutine may move to another thread) and reads the message by its id.
// perThread is what streamlog_errmsg() said at the same moment (for the report).
func failAndRead(st *C.streamlog_store, tag string) (msg, perThread string, hopped bool, err error) {
	name := C.CString(tag + "..bad")
	defer C.free(unsafe.Pointer(name))
	var ch *C.streamlog_channel
	tidBefore := syscall.Gettid()
	rc, errno := C.streamlog_channel_open(st, name, C.STREAMLOG_CREATE, nil, &ch)
	if rc != C.STREAMLOG_EINVAL {
		return "", "", false, fmt.Errorf("%s: rc %d, expected STREAMLOG_EINVAL", tag, rc)
	}
	id, ok := errno.(syscall.Errno)
	if !ok || id == 0 {
		return "", "", false, fmt.Errorf("%s: no error id in errno (%v)", tag, errno)
	}
	runtime.Gosched()
	perThread = C.GoString(C.streamlog_errmsg())
	var buf [C.STREAMLOG_ERRMSG_CAP]C.char
	if rc := C.streamlog_errmsg_of(C.int(id), &buf[0], C.size_t(len(buf))); rc != 0 {
		return "", "", false, fmt.Errorf("%s: streamlog_errmsg_of(%d): rc %d", tag, id, rc)
	}
	return C.GoString(&buf[0]), perThread, syscall.Gettid() != tidBefore, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: errmsg_goroutines STORE_DIR")
		os.Exit(2)
	}
	dir := C.CString(os.Args[1])
	defer C.free(unsafe.Pointer(dir))
	var st *C.streamlog_store
	if rc := C.streamlog_open(dir, nil, &st); rc != 0 {
		fmt.Fprintf(os.Stderr, "streamlog_open: %d\n", rc)
		os.Exit(1)
	}
	var mu sync.Mutex
	var failures []string
	hops, perThreadWrong := 0, 0
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func(tag string) {
				defer wg.Done()
				msg, perThread, hopped, err := failAndRead(st, tag)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failures = append(failures, err.Error())
				} else if !strings.Contains(msg, "'"+tag+"..bad'") {
					failures = append(failures, fmt.Sprintf("%s got another call's message: %q", tag, msg))
				}
				if hopped {
					hops++
				}
				if perThread != msg {
					perThreadWrong++
				}
			}(fmt.Sprintf("round-%d-goroutine-%d", r, g))
		}
		wg.Wait()
	}
	C.streamlog_close(st)
	for _, f := range failures {
		fmt.Fprintln(os.Stderr, f)
	}
	fmt.Printf("%d calls failed in %d goroutines; %d read their message on another OS thread than the failed "+
		"call's; streamlog_errmsg(), read at the same moment, gave another call's message or none in %d; "+
		"%d wrong or missing messages from streamlog_errmsg_of\n",
		rounds*goroutines, goroutines, hops, perThreadWrong, len(failures))
	if len(failures) > 0 {
		os.Exit(1)
	}
}
