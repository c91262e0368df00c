"""allocate"""
