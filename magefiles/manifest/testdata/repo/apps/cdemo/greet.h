int greet(void);
