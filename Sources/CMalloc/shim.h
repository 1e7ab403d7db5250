// glibc's malloc tuning (mallopt and its M_* parameters), which the Glibc module does not
// export. Used by `ddrouter run` (Sources/ddrouter/MallocTuning.swift).
#include <malloc.h>
