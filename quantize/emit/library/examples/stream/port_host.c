/* The example on a host: stdout. */
#include <stdio.h>
#include <stdlib.h>

#include "port.h"

void port_init(void)
{
}

void port_write(const char *text)
{
    fputs(text, stdout);
}

void port_exit(int code)
{
    fflush(stdout);
    exit(code);
}
