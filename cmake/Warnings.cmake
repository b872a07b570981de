# Compiler warnings and sanitizers, applied through one interface target so every
# saslguard target gets the same flags and third-party headers do not.
add_library(saslguard_warnings INTERFACE)
target_compile_options(saslguard_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
if(SASLGUARD_WERROR)
  target_compile_options(saslguard_warnings INTERFACE -Werror)
endif()

if(SASLGUARD_SANITIZE)
  # -O1 -g1 (line tables: reports still name file:line), after the build type's
  # -O2 -g so they win: the sanitizer build exists to run the tests once, and
  # gcc takes half the time for it at -O1 -g1 (measured on a test file: 39 s at
  # -O2 -g, 18 s at -O1 -g1 with ASan + UBSan).
  add_compile_options(-O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer harnesses (tests/fuzz): fuzzer + ASan + UBSan on the harness and the
# parsing sources compiled into it; UBSan findings abort so libFuzzer keeps the input.
if(SASLGUARD_FUZZ)
  add_library(saslguard_fuzz_flags INTERFACE)
  target_compile_options(saslguard_fuzz_flags INTERFACE
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1)
  target_link_options(saslguard_fuzz_flags INTERFACE -fsanitize=fuzzer,address,undefined)
endif()
