; Toggles PORTB bit 5 (an LED) forever.
        .text
        .global main
main:
        sbi 0x04, 5
loop:
        sbi 0x03, 5
        rjmp loop
