"""Reports: views of an :class:`~mvgen.analysis.Analysis` for people.

- :mod:`~mvgen.report.timeline`: sections with their dominant sub-genres, the clock format
- :mod:`~mvgen.report.timeline_plot`: the timeline PNG (matplotlib)
- :mod:`~mvgen.report.preview`: the offline HTML page with a player and the deliverables' checks
"""
