/*
 * blas_reexec.h - run the program again with OpenBLAS's faster kernels, before it does
 * anything else. OpenBLAS picks its kernels when the library loads, from the CPU or from
 * OPENBLAS_CORETYPE, so only a new process can change the choice: this is process
 * control for a program's main (the windcast binary, tests/bench/bench_nn), not part of
 * the numeric library, which only says which core would be better
 * (nn_blas_coretype_hint in forecast/nn.h).
 */
#ifndef WC_BLAS_REEXEC_H
#define WC_BLAS_REEXEC_H

/*
 * When nn_blas_coretype_hint() names a better core and the user has not set
 * OPENBLAS_CORETYPE: set it and execute this program again (/proc/self/exe with argv), so
 * call it before anything is opened. Returns NULL when there was nothing to do; the core
 * type when the exec failed (errno says why; the variable is unset again).
 */
const char *blas_reexec_fast(char **argv);

#endif
