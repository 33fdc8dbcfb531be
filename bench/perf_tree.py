#!/usr/bin/python3
"""perf folded stacks -> an inclusive call tree of named frames (bench/ledger.sh uses it).

usage: perf report --no-children -g folded,0,caller,function,percent ... | perf_tree.py [MIN_PCT] [DEPTH]
Hex frames (stripped libraries), clone3 and start_thread are dropped; "(inlined)" is merged; the kernel below a system call is one frame."""
import re
import signal
import sys

signal.signal(signal.SIGPIPE, signal.SIG_DFL)
# folded perf output: "<pct>% f1;f2;...;fn" (caller first) -> inclusive tree of named frames
min_pct = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
max_depth = int(sys.argv[2]) if len(sys.argv) > 2 else 7
tree = {}
total = 0.0
for line in sys.stdin:
    m = re.match(r'\s*([0-9.]+)%\s+(\S.*)$', line.rstrip('\n'))
    if not m or ';' not in m.group(2):
        continue
    pct = float(m.group(1))
    frames = [f.replace(' (inlined)', '') for f in m.group(2).split(';')]
    frames = [f for f in frames if not re.match(r'^(0x[0-9a-f]+|clone3|start_thread|\[unknown\])$', f)]
    # The kernel below a system call is one frame here: what matters is who called it.
    for i, f in enumerate(frames):
        if f.startswith('entry_SYSCALL') or f.startswith('asm_'):
            frames = frames[:i] + ['[kernel]']
            break
    total += pct
    node = tree
    for f in frames:
        e = node.setdefault(f, [0.0, {}])
        e[0] += pct
        node = e[1]
def show(node, depth):
    for name, (pct, kids) in sorted(node.items(), key=lambda kv: -kv[1][0]):
        if pct < min_pct:
            continue
        print('  %s%5.1f%%  %s' % ('  ' * depth, pct, name))
        if depth + 1 < max_depth:
            show(kids, depth + 1)
show(tree, 0)
