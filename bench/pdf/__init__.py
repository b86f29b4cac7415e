"""The summary PDF (reports/pdf.py) in one process, as the API, the console and the worker make
it (issue 20: fonts parsed once per process, a class of 30 pages in at most 150 ms):

    .venv/bin/python -m bench.pdf [--runs 15] [--pupils 30] [--seed 1] [--profile]

What runs: reports.pdf.summary_pdf, in this process, over pages built before the clock starts
(workload.py: a class of `--pupils` pupils, twelve subjects of one to four marks each over a
school week, most pages naming the guardians they are for; and one guardian's page, the weekly
email's attachment).

Printed, wall time (time.perf_counter) and this process's CPU time (time.process_time: the
machine may be busy with something else):
  fonts      the first reports.pdf.document() of the process, which parses Roboto Regular and
             Bold, then the median of `--runs` later ones (the parse, again or not);
  one page   one guardian's summary, median over `--runs` after one warm-up;
  class      the class's printable summary, `--pupils` pages, median over `--runs` after one
             warm-up; each PDF's page count is checked, its size printed;
then one line:

    pdf: class of <n> pages median=<ms> ms cpu=<ms> ms (target 150 ms, ratio=<median/150>,
        cpu ratio=<cpu/150>) one page=<ms> ms fonts parsed in <ms> ms

where the CPU ratio is the one to read on a machine busy with something else. The figures are
reported, not asserted. `--profile` adds one more class under cProfile, top 25 by own time.
The package: workload.py (the pages), measure.py (the timing), __main__.py (the command line).
"""
