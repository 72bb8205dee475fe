"""Analysis scripts over run folders: tables (CSV) and plots (PNG). Run them from the repository root,
e.g. ``python tools/analyse_search_logs.py -l logs/multi-search-.../log.txt``."""
