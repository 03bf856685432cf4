"""The platform's web console (issue 18): companies, the platform's operators and the
regulator, served by the platform node itself. See ``docs/console.md``."""
