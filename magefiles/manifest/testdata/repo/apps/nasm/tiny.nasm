bits 64
; a flat binary: the ELF header is written by hand
