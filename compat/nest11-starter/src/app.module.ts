import { Module } from '@nestjs/common';
import { CorsModule } from 'nestjs-cors';
import { NotesController } from './notes.controller';

@Module({
  imports: [CorsModule.forRoot({ origin: ['https://app.example.com', 'https://*.example.com'] })],
  controllers: [NotesController],
})
export class AppModule {}
