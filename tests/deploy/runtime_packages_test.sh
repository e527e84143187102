#!/usr/bin/env bash
# The runtime image installs deploy/docker/runtime-packages.txt and nothing else: every shared
# library that a binary in build/bin loads must come from a package on that list, or the image
# would start and die on a missing .so.
set -euo pipefail
root=$1 bin_dir=$2
list="$root/deploy/docker/runtime-packages.txt"
listed=$(grep -v '^\s*#' "$list" | grep -v '^\s*$' | sort -u)
binaries=$(find "$bin_dir" -maxdepth 1 -type f -executable -name 'tally*' | sort)
[ -n "$binaries" ] || { echo "no binaries in $bin_dir"; exit 1; }

# Each library once: the binaries share most of them, and dpkg -S is slow.
declare -A users
for bin in $binaries; do
  ldd "$bin" | grep -q "not found" && { echo "$(basename "$bin"): a library is not found"; exit 1; }
  while read -r lib; do users[$lib]+="$(basename "$bin") "; done \
    < <(ldd "$bin" | awk '/=>/ && $3 ~ /^\// {print $3}')
done

# One dpkg -S for every spelling of every library (usrmerge: /lib and /usr/lib are the same
# files, and dpkg knows each under one of them).
declare -A owner
candidates=()
for lib in "${!users[@]}"; do
  real=$(readlink -f "$lib")
  candidates+=("$lib" "/usr$lib" "${lib#/usr}" "$real" "/usr$real" "${real#/usr}")
done
while IFS= read -r line; do
  pkg=${line%%: *}
  owner[${line#*: }]=${pkg%%:*}
done < <(dpkg -S "${candidates[@]}" 2>/dev/null || true)

missing=0
for lib in "${!users[@]}"; do
  real=$(readlink -f "$lib")
  pkg="UNOWNED"
  for candidate in "$lib" "/usr$lib" "${lib#/usr}" "$real" "/usr$real" "${real#/usr}"; do
    if [ -n "${owner[$candidate]:-}" ]; then pkg=${owner[$candidate]}; break; fi
  done
  if ! grep -qx "$pkg" <<<"$listed"; then
    echo "$lib (used by ${users[$lib]}) comes from $pkg, which is not in runtime-packages.txt"
    missing=$((missing + 1))
  fi
done
echo "checked ${#users[@]} libraries of $(wc -w <<<"$binaries") binaries"
[ "$missing" -eq 0 ]
