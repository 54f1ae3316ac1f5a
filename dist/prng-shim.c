/* bcryptprimitives.dll for wine 8 (dist/check only; never shipped).
 *
 * Rust's std on Windows gets random bytes from ProcessPrng in bcryptprimitives.dll, which wine 8
 * (Debian 12's wine64) lacks, so the .exe would not start under it. This DLL, placed beside the
 * .exe for the check, exports ProcessPrng and fills the buffer with advapi32's RtlGenRandom
 * (exported as SystemFunction036). Windows 10 and later have the real DLL.
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -shared -o bcryptprimitives.dll prng-shim.c -ladvapi32 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
