"""Input channels Rasa 3.6 lacks, loaded from credentials.yml by dotted path.

They speak channel protocols only: they never touch the database and never import `actions`.
"""

import warnings

# Rasa warns about a "/intent{...}" message it cannot parse by quoting the whole line, so whatever
# a subscriber typed there (an address, a name, a phone) would reach the server's log.
warnings.filterwarnings("ignore", message="Failed to parse arguments in line ", category=UserWarning)
