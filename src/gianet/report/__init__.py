"""The report: LaTeX tables and figure grids of our numbers beside the paper's.

- :mod:`gianet.report.tables`: Tables 1 to 4 as booktabs LaTeX (``write_tables``).
- :mod:`gianet.report.figures`: input / variants / ground truth figure grids.
- :mod:`gianet.report.costs`: parameters and FLOPs of every variant (Table 4's data).
- ``paper_results.csv``, ``table4_cost.csv``: the paper's Tables 1 to 4 as package data.
"""
