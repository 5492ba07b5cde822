#!/usr/bin/env bash
# check_layout.sh - the shape of userspace/: a folder includes only from
# itself and from the stages before it (lib, config, kernel, host, model,
# render, redis; main.c may include any), and no headers include each other
# in a loop. Prints one line per offence and exits 1; silent when clean.
set -u
cd "$(dirname "$0")/.." || exit 2
stages=(lib config kernel host model render redis)
rank() { local i; for i in "${!stages[@]}"; do [ "${stages[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo 99; }
bad=0
pairs=$(mktemp)
trap 'rm -f "$pairs"' EXIT
for f in userspace/*/*.[ch] userspace/*.c; do
	dir=$(dirname "${f#userspace/}")
	[ -d "userspace/$dir" ] && [ "$dir" != . ] || dir=main
	[ "$dir" = main ] || [ "$(rank "$dir")" != 99 ] || { echo "$f: folder $dir is not a stage (${stages[*]})"; bad=1; }
	while read -r inc; do
		[ -f "userspace/$inc" ] || continue
		echo "${f#userspace/} $inc" >> "$pairs"
		[ "$dir" = main ] && continue
		to=${inc%%/*}
		if [ "$(rank "$to")" -gt "$(rank "$dir")" ]; then
			echo "$f includes $inc: $to is a later stage than $dir"
			bad=1
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
# a .c file and its own header are one node
if ! sed 's/\.[ch]\b/.x/g' "$pairs" | awk '$1 != $2' | tsort > /dev/null 2> "$pairs.err"; then
	echo "include loop: $(grep -v 'input contains a loop' "$pairs.err" | sed 's/^tsort: //' | tr '\n' ' ')"
	bad=1
fi
rm -f "$pairs.err"
exit $bad
