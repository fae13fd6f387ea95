"""count-allowed.py URL N CONCURRENCY: GETs URL N times from CONCURRENCY
threads and prints how many answered 200. Exits 1 (printing the odd
answers) when anything other than 200 or 429 came back."""
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

url, n, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def one(_):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception as e:  # noqa: BLE001 - reported below
        return "ERR " + " ".join(str(e).split())


with ThreadPoolExecutor(conc) as pool:
    answers = list(pool.map(one, range(n)))
odd = [a for a in answers if a not in (200, 429)]
if odd:
    print(f"unexpected answers: {odd[:5]}")
    sys.exit(1)
print(sum(1 for a in answers if a == 200))
