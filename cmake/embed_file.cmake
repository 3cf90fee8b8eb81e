# Turns one file into a C array and its length: -DIN=file -DOUT=file.c -DNAME=symbol gives
# `const char NAME[]` (NUL-terminated) and `const size_t NAME_len` (without the NUL).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
set(body "/* generated from ${IN} by cmake/embed_file.cmake: do not edit */\n#include <stddef.h>\n")
string(APPEND body "const char ${NAME}[] = {${hex} 0};\nconst size_t ${NAME}_len = ${len};\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
