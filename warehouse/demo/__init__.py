"""The demo: five teams' models with months of dated history, and one sign-in per role.

The demo is data (data/*.yaml); loader.py writes it through the services, and `manage.py seed_demo` runs it.
It sits at the top of the house: it may use every app's services.
"""
