"""The report: the paper's tables with our numbers beside them, whether each difference is
real, figure grids, scatters and curves, in LaTeX (and a PDF), HTML, CSV and JSON.

- :mod:`gianet.report.build`: the report stage (``build_report``); every file it writes is
  listed by :mod:`gianet.report.outputs`.
- :mod:`gianet.report.model`: the tables as data; :mod:`gianet.report.results_tables` and
  :mod:`gianet.report.cost_table` build them; :mod:`gianet.report.render_latex`,
  :mod:`gianet.report.render_html` and :mod:`gianet.report.render_data` render them.
- :mod:`gianet.report.stats`, :mod:`gianet.report.comparisons`: paired per-image statistics
  of the comparisons the paper makes.
- :mod:`gianet.report.figures`, :mod:`gianet.report.crops`, :mod:`gianet.report.scatter`,
  :mod:`gianet.report.curves`: figures; :mod:`gianet.report.document`: ``report.tex`` and
  its PDF.
- :mod:`gianet.report.costs`: parameters and FLOPs of every variant (Table 4's data).
- ``paper_results.csv``, ``table4_cost.csv``: the paper's Tables 1 to 4 as package data
  (:mod:`gianet.report.paper`).
"""
