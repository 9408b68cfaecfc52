/* Boards whose CPU starts at its final clock (the emulated ones): nothing to set up. */
#include "platform.h"

void clock_init(void)
{
}
