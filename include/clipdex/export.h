// CLIPDEX_API marks what libclipdex.so exports: the classes and functions of the public headers.
// The library is compiled with hidden visibility, so nothing else (the private modules, their
// dependencies) is visible to programs that link it.
#pragma once

#if defined(__GNUC__)
#define CLIPDEX_API __attribute__((visibility("default")))
#else
#define CLIPDEX_API
#endif
