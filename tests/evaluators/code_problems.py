"""Small code problems of our own in HumanEval's format, for the sandbox and code_tests tests.

Each has a ``prompt`` (signature and docstring), a ``canonical_solution`` (the body that
continues the prompt), a ``test`` defining ``check(candidate)`` and the ``entry_point``.
"""

from __future__ import annotations

from typing import TypedDict


class Problem(TypedDict):
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str


PROBLEMS: list[Problem] = [
    {
        "task_id": "vigil/0",
        "entry_point": "running_max",
        "prompt": (
            "def running_max(values: list[int]) -> list[int]:\n"
            '    """The largest value seen so far, at each position.\n'
            "    >>> running_max([1, 3, 2, 5])\n"
            "    [1, 3, 3, 5]\n"
            '    """\n'
        ),
        "canonical_solution": (
            "    out = []\n"
            "    for value in values:\n"
            "        out.append(value if not out else max(out[-1], value))\n"
            "    return out\n"
        ),
        "test": (
            "def check(candidate):\n"
            "    assert candidate([]) == []\n"
            "    assert candidate([1, 3, 2, 5]) == [1, 3, 3, 5]\n"
            "    assert candidate([-4, -7, -1]) == [-4, -4, -1]\n"
            "    assert candidate([2, 2]) == [2, 2]\n"
        ),
    },
    {
        "task_id": "vigil/1",
        "entry_point": "balanced",
        "prompt": (
            "def balanced(text: str) -> bool:\n"
            '    """Whether every (, [ and { in text is closed in order; other characters\n'
            "    are ignored.\n"
            "    >>> balanced('f([x]{})')\n"
            "    True\n"
            '    """\n'
        ),
        "canonical_solution": (
            "    pairs = {')': '(', ']': '[', '}': '{'}\n"
            "    stack = []\n"
            "    for char in text:\n"
            "        if char in '([{':\n"
            "            stack.append(char)\n"
            "        elif char in pairs:\n"
            "            if not stack or stack.pop() != pairs[char]:\n"
            "                return False\n"
            "    return not stack\n"
        ),
        "test": (
            "def check(candidate):\n"
            "    assert candidate('') is True\n"
            "    assert candidate('f([x]{})') is True\n"
            "    assert candidate('(]') is False\n"
            "    assert candidate('((') is False\n"
            "    assert candidate('a)b(') is False\n"
        ),
    },
    {
        "task_id": "vigil/2",
        "entry_point": "digit_root",
        "prompt": (
            "def digit_root(n: int) -> int:\n"
            '    """Sum the decimal digits of a non-negative n until one digit is left.\n'
            "    >>> digit_root(9875)\n"
            "    2\n"
            '    """\n'
        ),
        "canonical_solution": (
            "    while n >= 10:\n        n = sum(int(d) for d in str(n))\n    return n\n"
        ),
        "test": (
            "def check(candidate):\n"
            "    assert candidate(0) == 0\n"
            "    assert candidate(7) == 7\n"
            "    assert candidate(9875) == 2\n"
            "    assert candidate(10**12 - 1) == 9\n"
        ),
    },
    {
        "task_id": "vigil/3",
        "entry_point": "run_lengths",
        "prompt": (
            "def run_lengths(text: str) -> list[tuple[str, int]]:\n"
            '    """Each run of equal characters as (character, length), in order.\n'
            "    >>> run_lengths('aaab')\n"
            "    [('a', 3), ('b', 1)]\n"
            '    """\n'
        ),
        "canonical_solution": (
            "    runs = []\n"
            "    for char in text:\n"
            "        if runs and runs[-1][0] == char:\n"
            "            runs[-1] = (char, runs[-1][1] + 1)\n"
            "        else:\n"
            "            runs.append((char, 1))\n"
            "    return runs\n"
        ),
        "test": (
            "def check(candidate):\n"
            "    assert candidate('') == []\n"
            "    assert candidate('aaab') == [('a', 3), ('b', 1)]\n"
            "    assert candidate('abba') == [('a', 1), ('b', 2), ('a', 1)]\n"
        ),
    },
    {
        "task_id": "vigil/4",
        "entry_point": "merge_spans",
        "prompt": (
            "def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:\n"
            '    """Merge overlapping or touching (start, end) spans; the result is sorted.\n'
            "    >>> merge_spans([(5, 7), (1, 3), (2, 4)])\n"
            "    [(1, 4), (5, 7)]\n"
            '    """\n'
        ),
        "canonical_solution": (
            "    merged = []\n"
            "    for start, end in sorted(spans):\n"
            "        if merged and start <= merged[-1][1]:\n"
            "            merged[-1] = (merged[-1][0], max(merged[-1][1], end))\n"
            "        else:\n"
            "            merged.append((start, end))\n"
            "    return merged\n"
        ),
        "test": (
            "def check(candidate):\n"
            "    assert candidate([]) == []\n"
            "    assert candidate([(5, 7), (1, 3), (2, 4)]) == [(1, 4), (5, 7)]\n"
            "    assert candidate([(1, 2), (2, 3)]) == [(1, 3)]\n"
            "    assert candidate([(1, 10), (2, 3)]) == [(1, 10)]\n"
        ),
    },
    {
        "task_id": "vigil/5",
        "entry_point": "title_words",
        "prompt": (
            "import re\n\n\n"
            "def title_words(text: str) -> list[str]:\n"
            '    """The words of text that start with a capital letter, in order.\n'
            "    >>> title_words('Ada met alan and Grace')\n"
            "    ['Ada', 'Grace']\n"
            '    """\n'
        ),
        "canonical_solution": (
            "    words = re.findall(r'[A-Za-z]+', text)\n"
            "    return [w for w in words if w[0].isupper()]\n"
        ),
        "test": (
            "def check(candidate):\n"
            "    assert candidate('') == []\n"
            "    assert candidate('Ada met alan and Grace') == ['Ada', 'Grace']\n"
            "    assert candidate('Hello, World!') == ['Hello', 'World']\n"
        ),
    },
    {
        "task_id": "vigil/6",
        "entry_point": "nth_prime",
        "prompt": (
            "def nth_prime(n: int) -> int:\n"
            '    """The n-th prime number, counting from 1.\n'
            "    >>> nth_prime(4)\n"
            "    7\n"
            '    """\n'
        ),
        "canonical_solution": (
            "    primes = []\n"
            "    candidate = 2\n"
            "    while len(primes) < n:\n"
            "        if all(candidate % p for p in primes if p * p <= candidate):\n"
            "            primes.append(candidate)\n"
            "        candidate += 1\n"
            "    return primes[-1]\n"
        ),
        "test": (
            "def check(candidate):\n"
            "    assert candidate(1) == 2\n"
            "    assert candidate(4) == 7\n"
            "    assert candidate(100) == 541\n"
        ),
    },
]


def without_last_line(solution: str) -> str:
    """A solution without its last non-blank line: what a truncated generation looks like."""
    return "".join(solution.rstrip().splitlines(keepends=True)[:-1])
