DROP TABLE watch_list;
