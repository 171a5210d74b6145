"""diffexp"""
