#!/usr/bin/env python3
"""Print the DHCPv4 (or, with a second argument 6, DHCPv6) option
definitions compiled into a Kea library.

kea-2.2-dhcp4-defs.txt and kea-2.2-dhcp6-defs.txt were made with Debian
12's kea 2.2.0:

    python3 extract-kea-defs.py /usr/lib/x86_64-linux-gnu/libkea-dhcp++.so.54 > kea-2.2-dhcp4-defs.txt
    python3 extract-kea-defs.py /usr/lib/x86_64-linux-gnu/libkea-dhcp++.so.54 6 > kea-2.2-dhcp6-defs.txt

Kea keeps its definition tables as arrays of
  { const char *name; uint16_t code; const char *space; OptionDataType type;
    bool array; const OptionDataType *records; size_t nrecords;
    const char *encapsulates; }
(56 bytes on x86-64). The pointers are filled in by R_X86_64_RELATIVE
relocations, so a table is found by the relocation that points at the name
of its first entry, and read entry by entry until a name pointer has no
relocation. Needs only readelf.
"""
import struct
import subprocess
import sys

# OptionDataType in Kea 2.2's option_data_types.h, in enum order.
TYPES = ["empty", "binary", "boolean", "int8", "int16", "int32", "uint8",
         "uint16", "uint32", "any-address", "ipv4-address", "ipv6-address",
         "ipv6-prefix", "psid", "string", "tuple", "fqdn", "record", "unknown"]
ENTRY = 56

# Tables to print: the space name written in the output, and the name of
# the first entry of the table in that space.
TABLES = [("dhcp4", "subnet-mask", "dhcp4"),
          ("dhcp4", "vendor-encapsulated-options", "dhcp4"),  # the last-resort 43
          ("vendor-4491", "oro", "docsis3-v4")]
TABLES6 = [("dhcp6", "clientid", "dhcp6"),
           ("vendor-4491", "oro", "docsis3-v6"),
           ("s46-cont-mape-options", "s46-br", "s46-cont-mape-options"),
           ("s46-cont-mapt-options", "s46-rule", "s46-cont-mapt-options"),
           ("s46-cont-lw-options", "s46-br", "s46-cont-lw-options"),
           ("s46-rule-options", "s46-portparams", "s46-rule-options"),
           ("s46-v4v6bind-options", "s46-portparams", "s46-v4v6bind-options"),
           ("4o6", "4o6-interface", "4o6")]


def main(lib, tables):
    data = open(lib, "rb").read()
    rel = {}
    out = subprocess.run(["readelf", "-rW", lib], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and "RELATIVE" in f[2]:
            rel[int(f[0], 16)] = int(f[3], 16)

    def cstr(addr):
        return data[addr:data.index(b"\0", addr)].decode()

    def table(first, space):
        name_at = data.index(b"\0" + first.encode() + b"\0") + 1
        for off in sorted(o for o, a in rel.items() if a == name_at):
            if off + 16 in rel and cstr(rel[off + 16]) == space:
                return off
        sys.exit("no table starting with %s in %s" % (first, space))

    print("# space code name type array record-types encapsulates")
    for outspace, first, space in tables:
        off = table(first, space)
        while off in rel and off + 16 in rel and cstr(rel[off + 16]) == space:
            name = cstr(rel[off])
            code, = struct.unpack_from("<H", data, off + 8)
            typ, = struct.unpack_from("<I", data, off + 24)
            array = data[off + 28] != 0
            nrec, = struct.unpack_from("<Q", data, off + 40)
            recs = [TYPES[struct.unpack_from("<I", data, rel[off + 32] + 4 * i)[0]] for i in range(nrec)]
            encap = cstr(rel[off + 48]) if off + 48 in rel else ""
            print(outspace, code, name, TYPES[typ], str(array).lower(),
                  ",".join(recs) or "-", encap or "-")
            off += ENTRY
            if first == "vendor-encapsulated-options":
                break  # a table of one


if __name__ == "__main__":
    main(sys.argv[1], TABLES6 if sys.argv[2:] == ["6"] else TABLES)
