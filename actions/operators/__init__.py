"""The operators' doors to the register: the `otke` command, billing import and export, reading
reminders and the demo data. They reuse the register's functions; they are not a second data layer."""
