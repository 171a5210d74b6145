"""genesets"""
