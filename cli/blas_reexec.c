/* blas_reexec.c - see blas_reexec.h. */
#include "cli/blas_reexec.h"

#include <stdlib.h>
#include <unistd.h>

#include "forecast/nn.h"

const char *blas_reexec_fast(char **argv)
{
	const char *hint = nn_blas_coretype_hint();

	if (!hint || getenv("OPENBLAS_CORETYPE") || setenv("OPENBLAS_CORETYPE", hint, 1))
		return NULL;
	execv("/proc/self/exe", argv);
	unsetenv("OPENBLAS_CORETYPE");
	return hint;
}
