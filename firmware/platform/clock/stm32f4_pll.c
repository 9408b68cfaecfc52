/* STM32F4 clock tree: HSI or HSE -> main PLL -> SYSCLK, with the bus prescalers and flash wait states from
 * the board data (host/device/boards.py has already checked that the PLL gives BOARD_CPU_CLOCK_HZ within the
 * chip's limits). Register layout: RM0390 (STM32F446) section 6.3, the same on the F405/F407/F411. */
#include "platform.h"
#include "cortexm/cortexm.h"

#define RCC_CR      REG32(0x40023800u)
#define RCC_PLLCFGR REG32(0x40023804u)
#define RCC_CFGR    REG32(0x40023808u)
#define RCC_APB1ENR REG32(0x40023840u)
#define FLASH_ACR   REG32(0x40023C00u)
#define PWR_CR      REG32(0x40007000u)
#define PWR_CSR     REG32(0x40007004u)

#define CR_HSEON          (1u << 16)
#define CR_HSERDY         (1u << 17)
#define CR_HSEBYP         (1u << 18)
#define CR_PLLON          (1u << 24)
#define CR_PLLRDY         (1u << 25)
#define APB1ENR_PWREN     (1u << 28)
#define PWR_CR_VOS_SCALE1 (3u << 14)
#define PWR_CR_ODEN       (1u << 16)
#define PWR_CR_ODSWEN     (1u << 17)
#define PWR_CSR_ODRDY     (1u << 16)
#define PWR_CSR_ODSWRDY   (1u << 17)
#define ACR_PRFTEN        (1u << 8)
#define ACR_ICEN          (1u << 9)
#define ACR_DCEN          (1u << 10)
#define PLLCFGR_SRC_HSE   (1u << 22)
#define PLLCFGR_R_MASK    (7u << 28) /* PLLR (F446): kept at its reset value */
#define CFGR_SW_PLL       2u
#define CFGR_SWS_PLL      (2u << 2)
#define CFGR_SWS_MASK     (3u << 2)

/* Prescaler encodings: AHB (HPRE) 1,2,4,...,512 and APB (PPRE) 1,2,4,8,16. */
static uint32_t hpre_bits(uint32_t div)
{
    switch (div) {
    case 2: return 8u;
    case 4: return 9u;
    case 8: return 10u;
    case 16: return 11u;
    case 64: return 12u;
    case 128: return 13u;
    case 256: return 14u;
    case 512: return 15u;
    default: return 0u;
    }
}

static uint32_t ppre_bits(uint32_t div)
{
    switch (div) {
    case 2: return 4u;
    case 4: return 5u;
    case 8: return 6u;
    case 16: return 7u;
    default: return 0u;
    }
}

void clock_init(void)
{
    /* Voltage scale 1: needed for the highest frequencies. */
    RCC_APB1ENR |= APB1ENR_PWREN;
    (void)RCC_APB1ENR;
    PWR_CR |= PWR_CR_VOS_SCALE1;

    uint32_t source = 0u; /* HSI, on since reset */
#if defined(BOARD_CLOCK_SOURCE_HSE) || defined(BOARD_CLOCK_SOURCE_HSE_BYPASS)
#ifdef BOARD_CLOCK_SOURCE_HSE_BYPASS
    RCC_CR |= CR_HSEBYP; /* an external clock (e.g. ST-LINK MCO), not a crystal */
#endif
    RCC_CR |= CR_HSEON;
    while (!(RCC_CR & CR_HSERDY)) {
    }
    source = PLLCFGR_SRC_HSE;
#endif

    RCC_PLLCFGR = (RCC_PLLCFGR & PLLCFGR_R_MASK) | source | (uint32_t)BOARD_PLL_M | ((uint32_t)BOARD_PLL_N << 6) |
                  (((uint32_t)BOARD_PLL_P / 2u - 1u) << 16) | ((uint32_t)BOARD_PLL_Q << 24);
    RCC_CR |= CR_PLLON;
    while (!(RCC_CR & CR_PLLRDY)) {
    }

#if BOARD_OVERDRIVE
    /* Above 168 MHz (host/device/boards.py allows it only with [clock] overdrive): RM0390 section 5.1.4, with
     * the PLL on and before SYSCLK switches to it, over-drive on, then the switch to it. */
    PWR_CR |= PWR_CR_ODEN;
    while (!(PWR_CSR & PWR_CSR_ODRDY)) {
    }
    PWR_CR |= PWR_CR_ODSWEN;
    while (!(PWR_CSR & PWR_CSR_ODSWRDY)) {
    }
#endif

    /* Wait states before the clock goes up; read back until the flash interface has taken them. */
    FLASH_ACR = ACR_PRFTEN | ACR_ICEN | ACR_DCEN | BOARD_FLASH_LATENCY;
    while ((FLASH_ACR & 0xFu) != BOARD_FLASH_LATENCY) {
    }

    RCC_CFGR = (hpre_bits(BOARD_AHB_DIV) << 4) | (ppre_bits(BOARD_APB1_DIV) << 10) | (ppre_bits(BOARD_APB2_DIV) << 13);
    RCC_CFGR |= CFGR_SW_PLL;
    while ((RCC_CFGR & CFGR_SWS_MASK) != CFGR_SWS_PLL) {
    }
}
