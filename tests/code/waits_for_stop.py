"""A processing script that runs until it is stopped, and says how it was: the emulator
sends SIGTERM to a stopped job, as SageMaker does."""

import signal
import sys
import time


def stopped(signum, frame):
    print("got SIGTERM", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stopped)
print("waiting to be stopped", flush=True)
time.sleep(600)
