#!/usr/bin/env bash
# Compares the averages an ngspice -b run of a tdi-gen standalone netlist printed with the
# expectations in the netlist's header ("*   avg_<node>_s<n> = <V> V  +- <std> V ...").
# Prints one line per read-out node and sample (measured, expected, predicted std, z) and the
# summary chi2/N and max |z|. Usage: scripts/gen-compare.sh NETLIST NGSPICE_LOG
set -eu
[ $# -eq 2 ] || { echo "usage: $0 NETLIST NGSPICE_LOG" >&2; exit 2; }
awk '
    FNR == NR {
        if ($1 == "*" && $2 ~ /^avg_/ && $3 == "=") { exp_[$2] = $4; sd[$2] = $7; order[++n] = $2 }
        next
    }
    $1 ~ /^avg_/ && $2 == "=" { meas[$1] = $3 }
    END {
        printf "%-16s %14s %14s %12s %8s\n", "node", "measured (V)", "expected (V)", "pred std (V)", "z"
        for (i = 1; i <= n; i++) {
            k = order[i]
            if (!(k in meas)) { printf "%-16s %14s\n", k, "missing"; miss++; continue }
            z = (meas[k] - exp_[k]) / sd[k]
            chi2 += z * z; m++
            if (z < 0 ? -z > zmax : z > zmax) zmax = z < 0 ? -z : z
            printf "%-16s %14.6g %14.6g %12.3g %+8.2f\n", k, meas[k], exp_[k], sd[k], z
        }
        if (m) printf "%d averages: chi2/N = %.3f, max |z| = %.2f%s\n", m, chi2 / m, zmax,
                      miss ? sprintf(", %d missing", miss) : ""
        exit (miss || m == 0)
    }' "$1" "$2"
