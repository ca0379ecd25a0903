"""(lesson plugin in progress)"""
