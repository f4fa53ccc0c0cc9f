/* CRC32C, reflected polynomial 0x82F63B78: the checksum SSE4.2 computes in
 * hardware (about 8 bytes a cycle), with a byte-wise table as the fallback
 * for other CPUs. The table is filled once, on first use without the
 * instruction. */
#include <pthread.h>
#include <stdatomic.h>

#include "checksum.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc32c_table(uint32_t crc, const uint8_t *p, size_t len)
{
    pthread_once(&table_once, table_init);
    while (len--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <string.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t word;
        memcpy(&word, p, 8); /* unaligned-safe; little-endian as the CRC wants */
        c = __builtin_ia32_crc32di(c, word);
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}

uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len)
{
    static _Atomic int hw = -1; /* every thread finds the same answer */
    int use = atomic_load_explicit(&hw, memory_order_relaxed);
    if (use < 0) {
        use = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        atomic_store_explicit(&hw, use, memory_order_relaxed);
    }
    crc = ~crc;
    crc = use ? crc32c_hw(crc, data, len) : crc32c_table(crc, data, len);
    return ~crc;
}
#else
uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len)
{
    return ~crc32c_table(~crc, data, len);
}
#endif

uint32_t sl_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    return ~crc32c_table(~crc, data, len);
}
