-- One database per service (compose only; locally each service defaults to its own SQLite file).
CREATE DATABASE orders;
CREATE DATABASE inventory;
CREATE DATABASE email;
