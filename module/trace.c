// SPDX-License-Identifier: GPL-2.0
/* Instantiates the tracepoints declared in vballoon_trace.h. */
#define CREATE_TRACE_POINTS
#include "vballoon_trace.h"
