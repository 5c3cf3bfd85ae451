-- LOCAL PLACEHOLDER, never committed
SELECT 1;
