total = 2 + 2
squares = [i * i for i in range(1, 4)]
