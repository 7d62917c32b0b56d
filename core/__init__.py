"""The bottom layer: settings, resource names and the contracts the other layers share.

Nothing here imports any other package of the project, and `contracts` imports nothing but
the standard library, because it also ships inside the approval function's zip.
"""
