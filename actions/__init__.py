"""The action server and the register behind it, in three layers (docs/development.md):

- ``actions.register``: the database and its rules (accounts, meters, readings, periods, subscribers);
- ``actions.dialogue``: Rasa custom actions and form validation, served by the action server;
- ``actions.operators``: the `otke` command, billing import/export, reminders, demo data.

``actions.texts`` gives the dialogue and the reminders the bot's words from domain.yml.
"""
