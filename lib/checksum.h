/* CRC32C (Castagnoli) of stored records: the CPU's crc32 instruction where
 * there is one (x86-64 SSE4.2), a table otherwise; both give the same value. */
#ifndef SL_CHECKSUM_H
#define SL_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC32C: start with crc = 0, feed the pieces in order. */
uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len);
/* The table version alone, for tests to compare against. */
uint32_t sl_crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif
