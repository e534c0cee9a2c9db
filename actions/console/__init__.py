"""The staff console (`otke console`): period dashboard, conversations, NLU inbox, for staff behind a login."""
