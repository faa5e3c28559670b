"""The basics topic's katas: importing this module registers them."""
