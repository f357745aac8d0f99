"""What tests/integration/test_warm.py runs through the launcher instead of Prefect's engine."""

import os
import sys
import time

if __name__ == "__main__":
    print(f"pid={os.getpid()} ppid={os.getppid()} cwd={os.getcwd()} echo={os.environ['WARM_ECHO']}")
    print(f"argv={sys.argv}", flush=True)
    if os.environ.get("WARM_SLEEP"):
        time.sleep(float(os.environ["WARM_SLEEP"]))
    sys.exit(int(os.environ.get("WARM_EXIT", "0")))


def spawned(out: str, code: int) -> None:
    """A multiprocessing target: say where it runs, end with `code`."""
    with open(out, "w") as file:
        file.write(f"pid={os.getpid()} ppid={os.getppid()} cwd={os.getcwd()}")
    sys.exit(code)
