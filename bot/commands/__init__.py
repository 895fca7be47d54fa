"""The slash commands every platform serves: arguments, the command table, the answers."""
