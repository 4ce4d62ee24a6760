# Squares and a dict, printed: enough to exercise the compiler, the VM and the heap.
squares = [n * n for n in range(10)]
print(sum(squares), max(squares))
counts = {}
for word in "the cat saw the other cat".split():
    counts[word] = counts.get(word, 0) + 1
print(sorted(counts.items()))
try:
    1 // 0
except ZeroDivisionError as e:
    print("caught", type(e).__name__)
