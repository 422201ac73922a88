"""The grader's limits and defaults, in one place (docs/grading.md gives the reasons).

>>> DEFAULT_CELL_TIMEOUT < DEFAULT_TOTAL_TIMEOUT
True
"""

from __future__ import annotations

DEFAULT_PROFILE = "smoke"
DEFAULT_CELL_TIMEOUT = 300.0  # seconds a cell may run before it is interrupted
DEFAULT_TOTAL_TIMEOUT = 900.0  # seconds a whole submission may run before its processes are killed
DEFAULT_MEMORY_GB = 6.0  # RLIMIT_DATA of each process of a run (the kernel's heap and anonymous maps)
DEFAULT_OUTPUT_LIMIT = 2_000_000  # bytes of cell output kept; the rest is dropped
READBACK_TIMEOUT = 60.0  # seconds to read a run's answers and files back, after its processes are gone
MAX_NOTEBOOK_BYTES = 20_000_000  # a submission bigger than this is not run
MAX_WORKING_FILE_BYTES = 50_000_000  # a file a question reads, copied out of the working folder
MAX_STATE_BYTES = 20_000_000  # a resume marker (state/<student>.json) or grader.json read back
MAX_FILE_BYTES = 2**30  # RLIMIT_FSIZE: the biggest file a submission may write
MAX_PROCESSES = 512  # RLIMIT_NPROC, only when running as a separate user (it counts per user)
SANDBOX_USER = "nobody"
RUN_MARKER_VARIABLE = "COURSE_GRADE_RUN"  # in every run's environment: finds its processes
