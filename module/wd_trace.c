// SPDX-License-Identifier: GPL-2.0
/* WarpDrive tracepoints: the one place they are instantiated. */
#define CREATE_TRACE_POINTS
#include "wd_trace.h"
