"""Data and node fixtures shared by the benchmarks, the privacy attacks and the tests.

``hetero``: the public hetero data sets as two aligned party tables and a static data provider;
``vertical``: vertically split tables for the linear models; ``scoring``: trained models and
running nodes for the scoring benchmarks and tests. The tests import these (never the other
way round): experiments do not depend on the test suite.
"""
