"""Generate the C source of the cffi API-mode extension ``minigrad._C``.

Called by CMake at build time:  python tools/build_ffi.py OUT.c csrc/a.h csrc/b.h ...

Each public header in csrc/ marks the declarations Python may call with the lines
``// cdef-begin`` and ``// cdef-end``; only the text between them is given to ``ffi.cdef``
(cffi's parser does not understand the preprocessor). The generated module ``#include``s
the headers, so the compiler checks the declarations against the real ones.
"""
import os
import sys

import cffi


def cdef_of(path):
    out, inside = [], False
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s == "// cdef-begin":
                inside = True
            elif s == "// cdef-end":
                inside = False
            elif inside and not s.startswith("#"):
                out.append(line)
    return "".join(out)


def main(argv):
    out_c, headers = argv[1], sorted(argv[2:])
    ffi = cffi.FFI()
    ffi.cdef("\n".join(cdef_of(h) for h in headers))
    includes = "".join('#include "%s"\n' % os.path.basename(h) for h in headers)
    ffi.set_source("minigrad._C", includes)
    ffi.emit_c_code(out_c)


if __name__ == "__main__":
    main(sys.argv)
