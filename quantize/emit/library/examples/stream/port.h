/* The example's three needs from a platform: text out and an exit code (port_host.c, port_cortexm.c,
 * port_riscv.c). In your firmware: your UART or log. */
#ifndef PORT_H
#define PORT_H

void port_init(void);
void port_write(const char *text);
void port_exit(int code);

#endif
